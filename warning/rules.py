"""Rule registry (placeholder until the warning package lands)."""


def validate_rules(rules_file, path):
    return None
