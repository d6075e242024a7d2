"""animerec: anime recommendations that learn what fans co-like."""

__version__ = "0.1.0"
