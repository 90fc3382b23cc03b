# Docker CE from Docker's own repository: Red Hat's releases ship no Docker (the article's cookbook used
# the docker cookbook, which does the same). Added here rather than in box.yml's packages, which are
# installed before this script runs. Installed, not enabled: the provisioning starts it.
cat > /etc/yum.repos.d/docker-ce.repo <<'REPO'
[docker-ce-stable]
name=Docker CE Stable - $basearch
baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable
enabled=1
gpgcheck=1
gpgkey=https://download.docker.com/linux/centos/gpg
REPO
dnf install -y --setopt=install_weak_deps=False docker-ce docker-ce-cli containerd.io
