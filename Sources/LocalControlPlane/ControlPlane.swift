import KubeWatch
