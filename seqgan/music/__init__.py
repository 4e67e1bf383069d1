"""Symbolic music: MIDI in and out (``midi``), the MusicVAE melody encoding (``melody``), melody windows from the
Nottingham and JSB corpora (``dataset``) and piano-roll pictures (``plot``)."""
