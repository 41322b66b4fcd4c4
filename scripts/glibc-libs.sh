# Sourced by scripts/bundle.sh and scripts/check-bundle.sh: the sonames glibc itself provides. These
# stay out of the bundle; the host's copies must be used (they go with its loader and kernel).
GLIBC_RE='^(ld-linux-x86-64|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|libanl|libnsl|libBrokenLocale|libnss_[a-z]+|libthread_db|libcrypt)\.so'
