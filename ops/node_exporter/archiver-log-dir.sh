#!/bin/sh
# Publishes the size of the archiver's log folder for node_exporter's textfile collector, for the
# ArchiverLogDirLarge alert (P2, log folder over 1 GB). The archiver itself serves no such metric:
# the folder is on the host, so the host's exporter reports it. Run it from cron every 5 minutes:
#   */5 * * * * /opt/archiver/ops/node_exporter/archiver-log-dir.sh /var/log/archiver /var/lib/node_exporter/textfile
# Usage: archiver-log-dir.sh <log folder> <textfile collector folder>
# Writes <textfile folder>/archiver_log_dir.prom atomically (temp file + rename), as the
# collector requires, with archiver_log_dir_bytes and archiver_log_dir_files labelled by dir.
set -eu
if [ "$#" -ne 2 ]; then
  echo "Usage: $0 <log folder> <textfile collector folder>" >&2
  exit 2
fi
dir=$1
out=$2
if [ ! -d "$dir" ]; then
  echo "Cannot measure log folder \"$dir\": not a folder" >&2
  exit 2
fi
# Sizes of the regular files, in bytes, summed without following links (POSIX find and wc).
bytes=0
files=0
for size in $(find "$dir" -type f -exec wc -c {} + 2>/dev/null | awk '$2 != "total" { print $1 }'); do
  bytes=$((bytes + size))
  files=$((files + 1))
done
label=$(printf '%s' "$dir" | sed 's/\\/\\\\/g; s/"/\\"/g')
tmp="$out/.archiver_log_dir.prom.$$"
{
  echo "# HELP archiver_log_dir_bytes Total size of the files in the archiver's log folder"
  echo "# TYPE archiver_log_dir_bytes gauge"
  echo "archiver_log_dir_bytes{dir=\"$label\"} $bytes"
  echo "# HELP archiver_log_dir_files Number of files in the archiver's log folder"
  echo "# TYPE archiver_log_dir_files gauge"
  echo "archiver_log_dir_files{dir=\"$label\"} $files"
} >"$tmp"
mv "$tmp" "$out/archiver_log_dir.prom"
