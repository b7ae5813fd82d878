#!/bin/sh
# Creates the xhep system user and group the units run as. Starts nothing:
# enable a service with `systemctl enable --now xhep-agent` (or collector).
set -e
if ! getent group xhep >/dev/null; then
	groupadd --system xhep
fi
if ! getent passwd xhep >/dev/null; then
	useradd --system --gid xhep --home-dir /nonexistent --no-create-home \
		--shell /usr/sbin/nologin --comment "xhep capture system" xhep
fi
# The config files may hold passwords: root and the xhep group only.
for f in /etc/xhep/agent.yaml /etc/xhep/collector.yaml; do
	if [ -f "$f" ]; then
		chgrp xhep "$f"
		chmod 0640 "$f"
	fi
done
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
