"""Optimizers, pure jitted steps, the training loop and checkpoints."""
