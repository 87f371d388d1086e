"""Certificates of chargers (the OCA "Improved security for OCPP 1.6-J" whitepaper and OCPP 2.0.1 block A/M).

Pure code: checking a charger's certificate signing request, signing it with the operator's CA, naming a
certificate the way OCPP does (CertificateHashData), reading a charger's answers about its certificates. The
shell (``workers.pki``, ``api.pki``) keeps the CA's files, sends the commands and stores what the charger said.
"""
