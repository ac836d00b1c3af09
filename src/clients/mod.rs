//! Clients for the systems a scenario talks to. Each one turns transport failures into errors
//! the engine can classify (environment error versus a real answer) and stays free of
//! step-specific logic.

pub mod pd;
