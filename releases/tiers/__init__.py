"""What runs on each tier and how a build moves there: the promotion API, its plan, locks and deployments."""
