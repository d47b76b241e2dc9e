"""SQL repository, packaged terms files and the vault client wrapper."""
