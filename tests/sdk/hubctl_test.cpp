// Placeholder: hubctl tests follow.
