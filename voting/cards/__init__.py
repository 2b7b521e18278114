"""Edge adapters for the owner card (业主一卡通).

- ``voting.cards.printing``: print-ready PDFs of printed cards (with the QR code that carries
  the card's seed) and of the PIN letters that go with them.
- ``voting.cards.chip``: chip cards used through PKCS#11, whose key is generated on the card
  and never leaves it.

The submodules are imported on demand: printing needs reportlab and segno, chip cards need
python-pkcs11, and neither is needed by the other.
"""
