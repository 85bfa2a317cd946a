from .freq_decoupled_distiller import FreqDecoupledDistiller

__all__ = ['FreqDecoupledDistiller']
