"""HTTP routes: validate, call the use case, map the result. Nothing else."""
