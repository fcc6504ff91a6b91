"""Running a compiled network on any implementation, with one signature."""
