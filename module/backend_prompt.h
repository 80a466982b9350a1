/* SPDX-License-Identifier: Apache-2.0 */
/* Secret sources outside the application: a shell command that prints a
 * code (otp_command, pin_command) and a pinentry-protocol prompt program. */
#ifndef CISRES_BACKEND_PROMPT_H
#define CISRES_BACKEND_PROMPT_H

#include <stddef.h>

#include <p11-kit/pkcs11.h>

#define BACKEND_PROMPT_CMD_MAX 64      /* bytes a command may print */
#define BACKEND_PROMPT_CMD_TIMEOUT 10  /* seconds */
#define BACKEND_PROMPT_PIN_TIMEOUT 300 /* seconds for a person to answer */
#define BACKEND_PROMPT_SECRET_MAX 256  /* bytes of a PIN from the prompt */

/* Run "/bin/sh -c cmd" (stdin /dev/null), read at most 64 bytes of stdout
 * within 10 s, strip the trailing newline/blanks into out[cap] (NUL-ended).
 * CKR_OK, or CKR_FUNCTION_FAILED (timeout, non-zero exit, empty or too
 * long output, cannot start). The child is killed on timeout. */
CK_RV backend_prompt_command(const char *cmd, char *out, size_t cap, size_t *len);

/* Ask through a pinentry-protocol program (argv split on blanks): SETTITLE,
 * SETDESC, SETPROMPT, GETPIN, BYE. CKR_OK with the answer in out[cap];
 * CKR_FUNCTION_CANCELED when the user cancels ("ERR 83886179"),
 * CKR_FUNCTION_FAILED otherwise. */
CK_RV backend_prompt_pinentry(const char *prog, const char *title, const char *desc,
			      const char *prompt, char *out, size_t cap, size_t *len);

#endif
