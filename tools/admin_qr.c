/* SPDX-License-Identifier: Apache-2.0 */
/* cisres-admin: a QR code drawn in the terminal (libqrencode), two module
 * rows per text line with UTF-8 half blocks, inside a 4-module quiet zone. */
#include "admin.h"

#include <qrencode.h>

#define QR_QUIET 4

static bool qr_dark(const QRcode *qr, int x, int y)
{
	x -= QR_QUIET;
	y -= QR_QUIET;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;
	return (qr->data[(size_t)y * (size_t)qr->width + (size_t)x] & 1) != 0;
}

int admin_qr_print(FILE *f, const char *text, bool color)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);

	if (qr == NULL) {
		admin_err("cannot encode the QR code");
		return -1;
	}
	int side = qr->width + 2 * QR_QUIET;
	for (int y = 0; y < side; y += 2) {
		if (color)
			fputs("\033[30;47m", f); /* black modules on white */
		for (int x = 0; x < side; x++) {
			bool top = qr_dark(qr, x, y);
			bool bottom = y + 1 < side && qr_dark(qr, x, y + 1);
			if (top && bottom)
				fputs("\xe2\x96\x88", f); /* U+2588 full block */
			else if (top)
				fputs("\xe2\x96\x80", f); /* U+2580 upper half */
			else if (bottom)
				fputs("\xe2\x96\x84", f); /* U+2584 lower half */
			else
				fputc(' ', f);
		}
		if (color)
			fputs("\033[0m", f);
		fputc('\n', f);
	}
	QRcode_free(qr);
	return ferror(f) ? -1 : 0;
}
