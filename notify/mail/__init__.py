"""How a notice is written: the one MIME structure, serialised once per zone and filled per recipient."""
