#!/bin/sh
# Leaves the xhep user and the configuration in place (Debian practice);
# purge removes the package's state directory (/var/lib/xhep-agent or
# /var/lib/xhep-collector: spool, spill).
set -e
if [ "$1" = "purge" ]; then
	case "$DPKG_MAINTSCRIPT_PACKAGE" in
	xhep-agent | xhep-collector) rm -rf "/var/lib/$DPKG_MAINTSCRIPT_PACKAGE" ;;
	esac
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
