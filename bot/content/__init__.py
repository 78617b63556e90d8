"""Answer files: loading, checking, hot reload and rendering."""

from bot.content.model import Answer, Button, ContentProblem, ContentSnapshot, Rendered
from bot.content.store import ContentStore

__all__ = ["Answer", "Button", "ContentProblem", "ContentSnapshot", "ContentStore", "Rendered"]
