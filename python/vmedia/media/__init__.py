"""Media primitives: time constants, I420 pictures, colours, generated test media."""
