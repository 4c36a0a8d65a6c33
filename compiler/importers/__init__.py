"""Importers: other tools' settings as slurmplan's inputs (pure, like all of compiler/)."""
