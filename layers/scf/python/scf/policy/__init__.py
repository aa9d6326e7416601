"""Credit policy documents, one JSON file per version (`<policy_version>.json`), loaded by
`scf.domain.policy.load_policy`. A shipped version is never edited or deleted: old decisions are
re-explained with the version they ran under."""
