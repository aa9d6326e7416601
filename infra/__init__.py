"""The cloud stack (CDK app, constructs) and the local stack built from its synthesized template."""
