"""Pure domain logic shared by the service layer and the scheduler: errors, ids, states, sizes."""
