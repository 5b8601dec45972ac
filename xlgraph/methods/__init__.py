"""The methods, each a short composition of data, model, objective and loop."""
