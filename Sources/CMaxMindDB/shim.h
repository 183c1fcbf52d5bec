#include <sys/socket.h>
#include <netinet/in.h>
#include <maxminddb.h>
