from .freq_decoupled_distiller import FreqDecoupledDistiller
from .labelled_distiller import LabelledDistiller

__all__ = ['FreqDecoupledDistiller', 'LabelledDistiller']
