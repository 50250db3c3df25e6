"""Building the student: teacher records, solver feedback, data preparation and training."""
