"""The methods, each a composition of shared pieces; `METHODS[name]()` is its `train_and_evaluate`."""


def _finetune():
    from xlgraph.methods.finetune import train_and_evaluate

    return train_and_evaluate


def _self_learning():
    from xlgraph.methods.self_learning import train_and_evaluate

    return train_and_evaluate


def _clhg():
    from xlgraph.methods.clhg import train_and_evaluate

    return train_and_evaluate


def _deep_cnn():
    from xlgraph.methods.deep_cnn import train_and_evaluate

    return train_and_evaluate


METHODS = {"finetune": _finetune, "self_learning": _self_learning, "clhg": _clhg, "deep_cnn": _deep_cnn}
