"""One module per stack. Stacks only compose and connect constructs from ``modules/``."""
