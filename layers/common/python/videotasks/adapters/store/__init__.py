"""Data access: the only code that talks to DynamoDB."""
