"""When a build may go: the quarterly push calendar, and the schedule, moves and cancellations of a push."""
