"""The management plane: Azure Resource Manager's protocol (HTTPS, bearer tokens, the ARM error body)."""
