"""Run with the Rasa venv's Python (tests/test_rasa_project.py does): trains the custom
classifier on a small data set through Rasa's own tokenizer and featurizers, stores it,
loads it back and prints JSON facts the test asserts on.

Rasa 3.6 needs Python 3.10, so this cannot be imported by the gateway's test suite.
"""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "rasa_project"))
from classifiers.tfidf_logistic import TfidfLogisticRegressionClassifier

EXAMPLES = {
    "documents": ["do I need a visa", "what papers do I need", "passport and visa to travel"],
    "warning_signs": ["is this job offer real", "they want a fee for the job", "offer too good"],
    "distress": ["they took my passport", "I am locked in", "help they will not let me go"],
}
PROBES = ["do I need a passport", "the job offer asks a fee", "they locked me in", "zzzz"]


def component(storage: LocalModelStorage, context: ExecutionContext, kind, name, **config):
    """A new Rasa component with its default config and `config` on top."""
    return kind.create({**kind.get_default_config(), **config}, storage, Resource(name), context)


def main() -> None:
    """Train, store, load and compare; print the facts as JSON."""
    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    context = ExecutionContext(GraphSchema({}), "check")
    tokenizer = component(storage, context, WhitespaceTokenizer, "tokens")
    words = component(storage, context, CountVectorsFeaturizer, "words", alias="words")
    chars = component(
        storage,
        context,
        CountVectorsFeaturizer,
        "chars",
        alias="chars",
        analyzer="char_wb",
        min_ngram=3,
        max_ngram=6,
    )
    data = TrainingData(
        [Message.build(text=t, intent=i) for i, texts in EXAMPLES.items() for t in texts]
    )
    tokenizer.process_training_data(data)
    for featurizer in (words, chars):
        featurizer.train(data)
        featurizer.process_training_data(data)
    config = {"featurizers": ["words", "chars"], "C": 10}
    trained = component(storage, context, TfidfLogisticRegressionClassifier, "intent", **config)
    trained.train(data)

    def parse(classifier: TfidfLogisticRegressionClassifier) -> list[dict]:
        messages = [Message.build(text=t) for t in PROBES]
        tokenizer.process(messages)
        words.process(messages)
        chars.process(messages)
        classifier.process(messages)
        return [m.as_dict_nlu() for m in messages]

    loaded = TfidfLogisticRegressionClassifier.load(
        {**TfidfLogisticRegressionClassifier.get_default_config(), **config},
        storage,
        Resource("intent"),
        context,
    )
    before, after = parse(trained), parse(loaded)

    # Refit sklearn's own regression on the same weighted features: same probabilities.
    from sklearn.linear_model import LogisticRegression

    examples = data.intent_examples
    reference = LogisticRegression(
        C=10, max_iter=1000, class_weight="balanced", random_state=42, multi_class="multinomial"
    ).fit(trained._features(examples), [e.get("intent") for e in examples])
    messages = [Message.build(text=t) for t in PROBES]
    tokenizer.process(messages)
    words.process(messages)
    chars.process(messages)
    expected = reference.predict_proba(loaded._features(messages))
    got = [
        [
            next(r["confidence"] for r in p["intent_ranking"] if r["name"] == c)
            for c in reference.classes_
        ]
        for p in after
    ]
    print(
        json.dumps(
            {
                "intents": [p["intent"]["name"] for p in after],
                "same_after_loading": before == after,
                "max_difference_from_sklearn": float(np.max(np.abs(np.asarray(got) - expected))),
                "ranking_sums": [sum(r["confidence"] for r in p["intent_ranking"]) for p in after],
            }
        )
    )


if __name__ == "__main__":
    main()
