"""PDFium is not thread-safe: the one lock every use of pypdfium2 in this process holds (text layers in
extract/pdf.py, page rendering for OCR in ocr/pdf.py)."""

import threading

LOCK = threading.Lock()
