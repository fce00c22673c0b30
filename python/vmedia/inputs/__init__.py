"""One owner per input stream: queue, decode, last good picture, stalls, errors."""
