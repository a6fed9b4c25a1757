"""Whether a build may go: beta sign-offs and problems, holds, the facts gathered and the gates' verdicts."""
