"""Orders for a customer, placed by a partner app under the customer's consent."""
