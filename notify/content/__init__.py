"""What a notice says: which notice is due, its content per recipient, its training and notes, previews."""
