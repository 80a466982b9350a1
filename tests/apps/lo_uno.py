#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Drive a headless LibreOffice (soffice --accept=pipe,name=PIPE;urp;) over UNO.
    lo_uno.py PIPE list
        print "SERIALHEX|subject|issuer" for every personal certificate that
        LibreOffice's NSS security environment sees (certificate + key).
    lo_uno.py PIPE quit
        ask LibreOffice to terminate.
    lo_uno.py PIPE pdf SERIALHEX OUT.pdf [PIN]
        make a Writer document and export it to a signed PDF (writer_pdf_Export,
        SignPDF with the certificate of that serial number).
Runs under the system python3 (python3-uno)."""
import sys
import time

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException


def pv(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def connect(pipe):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local)
    for _ in range(300):
        try:
            return resolver.resolve("uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
        except NoConnectException:
            time.sleep(0.2)
    sys.exit("lo_uno: cannot connect to soffice (pipe %s)" % pipe)


def personal_certs(ctx):
    seinit = ctx.ServiceManager.createInstanceWithContext(
        "com.sun.star.xml.crypto.SEInitializer", ctx)
    env = seinit.createSecurityContext("").getSecurityEnvironment()
    return env.getPersonalCertificates()


def main():
    ctx = connect(sys.argv[1])
    if sys.argv[2] == "quit":
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        try:
            desktop.terminate()
        except Exception:  # the bridge goes away while LibreOffice exits
            pass
        return
    certs = personal_certs(ctx)
    if sys.argv[2] == "list":
        for c in certs:
            print("%s|%s|%s" % (bytes(c.SerialNumber.value).hex(), c.SubjectName, c.IssuerName))
        return
    serial, out = sys.argv[3].lower(), sys.argv[4]
    pin = sys.argv[5] if len(sys.argv) > 5 else ""
    match = [c for c in certs if bytes(c.SerialNumber.value).hex() == serial]
    if not match:
        sys.exit("lo_uno: no personal certificate with serial %s" % serial)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    doc = desktop.loadComponentFromURL("private:factory/swriter", "_blank", 0,
                                       (pv("Hidden", True),))
    try:
        doc.Text.setString("Signed by LibreOffice through the CISRES token.")
        filter_data = uno.Any("[]com.sun.star.beans.PropertyValue", (
            pv("SignPDF", True),
            pv("SignatureCertificate", match[0]),
            pv("SignaturePassword", pin),
            pv("SignatureReason", "CISRES application test"),
        ))
        doc.storeToURL(uno.systemPathToFileUrl(out),
                       (pv("FilterName", "writer_pdf_Export"), pv("FilterData", filter_data)))
    finally:
        doc.close(True)
    print("signed PDF written")


main()
