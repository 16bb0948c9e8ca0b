#ifndef NIMDEPLOY_CYAML_SHIM_H
#define NIMDEPLOY_CYAML_SHIM_H
#include <yaml.h>
#endif
