"""Training: the method interface (``Method``, ``Step``), the players a step trains (one seed or S
seeds stacked), the one loop, and running one task of a sweep."""
