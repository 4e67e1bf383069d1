"""seqgan: adversarial and RL training of sequence generators."""
__version__ = "0.1.0"
