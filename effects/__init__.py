"""slurmplan's thin effects layer: runs a plan's exact argv, writes files, journals, sleeps."""
