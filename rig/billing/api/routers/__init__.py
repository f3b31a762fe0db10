"""One router per area of the billing centre's REST API."""
