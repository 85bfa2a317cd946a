"""Classifiers of the fdkd scope that MMPretrain lacks (text)."""
from .text_classifier import TextClassifier

__all__ = ['TextClassifier']
