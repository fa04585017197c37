"""Domain services. Each public function is one unit of work and commits in one place."""
