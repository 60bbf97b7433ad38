#ifndef ATRIUM_VERSION_H
#define ATRIUM_VERSION_H
#define ATRIUM_VERSION "0.1.0"
#endif
