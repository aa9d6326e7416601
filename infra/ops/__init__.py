"""`scf ops`: the back-office commands of a running system (the local stack or a deployed stage)."""
