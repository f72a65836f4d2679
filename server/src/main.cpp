#include <crd/server/application.hpp>

int main(int argc, char** argv)
{
    return crd::server::run_command_line(argc, argv);
}
